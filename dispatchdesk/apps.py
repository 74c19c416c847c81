from django.apps import AppConfig


class DispatchDeskConfig(AppConfig):
    """The project package is an app only to hold project-wide management commands."""

    name = "dispatchdesk"
    verbose_name = "DispatchDesk"
