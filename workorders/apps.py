from django.apps import AppConfig


class WorkordersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "workorders"
    verbose_name = "Work orders"
