"""Settings of ``manage.py migrate`` building an SQLite alias's template (``tests.support.databases``): the
test settings (``TEST_TEMPLATE_BASE_SETTINGS``), with that alias on the file ``TEST_SQLITE_TEMPLATE``
instead of in memory."""

import importlib
import os

vars().update(
    {
        name: value
        for name, value in vars(importlib.import_module(os.environ["TEST_TEMPLATE_BASE_SETTINGS"])).items()
        if name.isupper()
    }
)
DATABASES = {  # noqa: F821 (from the base settings above)
    **DATABASES,  # noqa: F821
    os.environ["TEST_SQLITE_TEMPLATE_ALIAS"]: {
        **DATABASES[os.environ["TEST_SQLITE_TEMPLATE_ALIAS"]],  # noqa: F821
        "NAME": os.environ["TEST_SQLITE_TEMPLATE"],
    },
}
