import unicodedata
from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.validators import RegexValidator
from django.db import connection, models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .choices import STAFF_ROLES, WORKER_ROLES, Role
from .roles import ROLE_PERMISSIONS

DEFAULT_TEAM_NAME = "General"
TEAM_NAME_TAKEN = "A team with this name already exists."


class TeamManager(models.Manager):
    def held(self, ids: Iterable[int]) -> set[int]:
        """The teams of `ids` that exist, held against deletion until the transaction ends: work,
        a membership or a user written into a team deleted meanwhile fails its foreign key at
        the commit. On PostgreSQL `FOR KEY SHARE`, by id: the lock that foreign key takes at
        commit, taken now; a team's rename or change of members (FOR NO KEY UPDATE) does not wait
        for it, and a deletion (accounts.admin.lock_for_deletion) is refused while it is held."""
        ids = sorted(set(ids))
        if not ids:
            return set()
        if not connection.features.has_select_for_update:  # SQLite: a write holds the database
            return set(self.filter(pk__in=ids).values_list("pk", flat=True))
        table = connection.ops.quote_name(self.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE", [ids]
            )
            return {pk for (pk,) in cursor.fetchall()}

    def default(self) -> "Team":
        """The team that work goes to when none is given: made by a migration, the default
        whatever it is renamed to, and never deleted (the admin refuses)."""
        team = self.filter(is_default=True).first()
        if team is None:
            # Missing only where it was deleted outside the admin (or in a test's emptied
            # database): as the migration does, the team named General in any case becomes the
            # default, or is made.
            team = self.filter(name__iexact=DEFAULT_TEAM_NAME).first()
            team = team or self.model(name=DEFAULT_TEAM_NAME)
            team.is_default = True
            team.save()
        return team


# Imports list a user's teams separated by `;` (accounts.imports).
no_semicolon = RegexValidator(
    r"^[^;]*$", "A team name cannot hold a semicolon: imports separate team names with it."
)


class Team(models.Model):
    """A queue of work. Members are agents and supervisors."""

    # Unique in any letter case (Meta's constraint), which makes it unique as written too. Not
    # a plain unique column: renaming one would then lock the team's row against the inserts
    # that name it (FOR UPDATE), a ticket filed in it, held back until the rename commits.
    name = models.CharField(max_length=100, validators=[no_semicolon])
    # Found by this mark, not by its name: renaming the default team keeps it the default.
    is_default = models.BooleanField(
        default=False, editable=False, help_text="Work filed without a team goes to this team."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TeamManager()

    class Meta:
        ordering = ["name"]
        constraints = [
            # `IT` and `it` would be one queue to people, and imports find teams by name.
            models.UniqueConstraint(
                Lower("name"),
                name="team_name_unique_in_any_case",
                violation_error_message=TEAM_NAME_TAKEN,
            ),
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="team_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def etag_values(self) -> tuple:
        """What its ETag changes with (it has no time of its last change)."""
        return (self.name, sorted(member.pk for member in self.members.all()))


class UserQuerySet(models.QuerySet):
    def workers(self):
        """Active agents and supervisors: the people work can be assigned to."""
        return self.filter(is_active=True, role__in=WORKER_ROLES)

    def visible_to(self, user):
        if not user.is_authenticated or user.role == Role.REQUESTER:
            return self.none()
        if user.role == Role.ADMIN:
            return self.all()
        return self.workers()


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email):
        # Emails are logins: stored lower-case, and in Unicode's compatibility form (NFKC), as
        # Django folds usernames (AbstractBaseUser.clean): `ｅ` (fullwidth) is `e`, `ä` written
        # as `a` and a combining mark is `ä`. The API, the admin, imports and logins then agree.
        return unicodedata.normalize("NFKC", super().normalize_email(email or "")).strip().lower()

    def get_by_natural_key(self, email):
        return self.get(email=self.normalize_email(email))

    def create_user(self, email, password=None, **fields):
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)  # None gives an unusable password
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        # `createsuperuser` passes the flags Django's own user model has; here the role decides.
        fields.pop("is_staff", None)
        fields.pop("is_superuser", None)
        fields["role"] = Role.ADMIN
        return self.create_user(email, password, **fields)


def may_hold_work(*, is_active: bool, role: str, team_ids, team_id: int) -> bool:
    """The assignment rule: work goes to an active agent or supervisor of its team. Kept apart
    from User so that imports can apply it to people read in bulk."""
    return is_active and role in WORKER_ROLES and team_id in team_ids


def cannot_hold_work(person, team) -> str:
    """What is wrong when `may_hold_work` is not true of `person` for work of `team`."""
    return f"{person} is not an active agent or supervisor of team {team}."


class User(AbstractBaseUser):
    """A person who logs in with their email. The role decides everything they may do."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.REQUESTER)
    teams = models.ManyToManyField(Team, related_name="members", blank=True)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Set by accounts.services.end_sessions: browser sessions from before it end.
    sessions_ended_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = UserManager()

    # The ids of the user's teams as read together with the user (API authentication does, in
    # the same query); None when they were not. Never written: a user read this way lives for
    # one request.
    loaded_team_ids: tuple[int, ...] | None = None

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["role", "is_active"])]

    def __str__(self) -> str:
        return self.full_name or self.email

    def _get_session_auth_hash(self, secret=None):
        """Django's (an HMAC of the password hash, which every request of a browser session
        must still match), with the time the account's sessions were last ended: as a new
        password does, a deactivation ends the sessions made before it, also once the account
        is active again. Unchanged until then, so that no session ends without a reason."""
        if self.sessions_ended_at is None:
            return super()._get_session_auth_hash(secret)
        value = f"{self.password}:{self.sessions_ended_at.isoformat()}"
        salt = "accounts.User.get_session_auth_hash"
        return salted_hmac(salt, value, secret=secret, algorithm="sha256").hexdigest()

    def clean(self):
        super().clean()
        self.email = User.objects.normalize_email(self.email)

    # Staff status and permissions are derived from the role, never stored on their own.
    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_superuser(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_requester(self) -> bool:
        return self.role == Role.REQUESTER

    @property
    def is_worker(self) -> bool:
        """Agents and supervisors: team members who can be assigned work."""
        return self.role in WORKER_ROLES

    def etag_values(self) -> tuple:
        """What their ETag changes with (a user has no time of their last change)."""
        teams = sorted(team.pk for team in self.teams.all())
        return (self.email, self.full_name, self.role, self.is_active, teams)

    def may_hold_work_of(self, team_id: int) -> bool:
        """`may_hold_work` for this user as saved (their membership read now)."""
        return may_hold_work(
            is_active=self.is_active,
            role=self.role,
            team_ids=set(self.teams.filter(pk=team_id).values_list("pk", flat=True)),
            team_id=team_id,
        )

    def has_perm(self, perm: str, obj=None) -> bool:
        return self.is_active and (self.is_superuser or perm in ROLE_PERMISSIONS[self.role])

    def has_perms(self, perm_list, obj=None) -> bool:
        return all(self.has_perm(perm, obj) for perm in perm_list)

    def has_module_perms(self, app_label: str) -> bool:
        if not self.is_active:
            return False
        return self.is_superuser or any(
            perm.startswith(f"{app_label}.") for perm in ROLE_PERMISSIONS[self.role]
        )
