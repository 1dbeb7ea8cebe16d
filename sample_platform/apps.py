from django.apps import AppConfig


class SamplePlatformConfig(AppConfig):
    name = "sample_platform"
    verbose_name = "Sample Studio platform (system of record)"
