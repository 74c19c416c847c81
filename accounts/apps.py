from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from .authentication import forget_recent_users
        from .models import Team, User

        # The rows API authentication keeps for a few seconds (user_by_id) go stale with these.
        post_save.connect(forget_recent_users, sender=User, dispatch_uid="forget_users_save")
        post_delete.connect(forget_recent_users, sender=User, dispatch_uid="forget_users_delete")
        post_delete.connect(forget_recent_users, sender=Team, dispatch_uid="forget_users_team")
        m2m_changed.connect(
            forget_recent_users, sender=User.teams.through, dispatch_uid="forget_users_teams"
        )
