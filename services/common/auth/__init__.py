"""Identity: who is asking (a token of a trusted OpenID Connect issuer, mapped to a membership) and what
their roles allow."""

from services.common.auth.deps import AuthenticatedDep, Authenticator, allow, current_principal
from services.common.auth.principal import Principal
from services.common.auth.roles import Role

__all__ = ["AuthenticatedDep", "Authenticator", "Principal", "Role", "allow", "current_principal"]
