import factory

from accounts.choices import Role
from accounts.models import Team, User

PASSWORD = "a-long-test-password-42"


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    role = Role.REQUESTER
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def teams(self, create, extracted, **kwargs):
        if create and extracted:
            self.teams.set(extracted)


class RequesterFactory(UserFactory):
    role = Role.REQUESTER


class AgentFactory(UserFactory):
    role = Role.AGENT


class SupervisorFactory(UserFactory):
    role = Role.SUPERVISOR


class AdminFactory(UserFactory):
    role = Role.ADMIN
