// Shows the human-readable form of the chosen crontab under the field (as django-celery-beat's
// inline script does), loaded from a file so the content security policy can forbid inline scripts.
'use strict';
(function($) {
    const script = document.getElementById('periodic-task-overrides');
    const readableCrontabs = JSON.parse(document.getElementById('readable-crontabs').textContent);
    const originalHelp = script.dataset.crontabHelp;
    $(function() {
        $('.field-crontab_translation').hide();
        $('.field-crontab').change(function() {
            const help = $('.field-crontab .help');
            help.text(originalHelp);
            help.append(document.createElement('br'));
            help.append(document.createTextNode('Translation: ' + readableCrontabs[$('#id_crontab').val()]));
        });
    });
})(django.jQuery);
