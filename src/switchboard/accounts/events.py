"""What the accounts service announces, for the layers above it to react to (subscribed at
start-up by switchboard.wiring). Each hook runs in the caller's unit of work."""

from __future__ import annotations

from switchboard.core.hooks import Hook

# (ctx, user): a user's names or e-mail changed (they are part of the state pushed to the PBX).
user_changed = Hook("accounts.user_changed")
# (ctx, user): a user is about to be deleted; what hangs on it must be undone (numbers
# freed, the PBX configuration removed).
user_deleting = Hook("accounts.user_deleting")
# (ctx, account): an account was marked deleted after each of its users went through
# user_deleting; a subscriber purges the row once nothing is left to push.
account_deleted = Hook("accounts.account_deleted")
