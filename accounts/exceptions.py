"""Named errors of the accounts services."""


class AccountsError(Exception):
    """Base of the errors below; the message is safe to show to an operator."""


class RoleNotFound(AccountsError):
    def __init__(self, name: str, known: list[str]):
        self.name = name
        self.known = known
        super().__init__(f"unknown role {name!r}; roles are: {', '.join(known) or '(none)'}")


class RoleInUse(AccountsError):
    def __init__(self, role: str, clients: int, users: int):
        self.role = role
        super().__init__(
            f"role {role!r} is still held by {clients} client(s) and {users} user(s); "
            "give them another role first"
        )
