"""What the MiVB service announces to the sync above it (subscribed at start-up by
switchboard.wiring). Both are required: a change whose push cannot be queued must fail,
never be committed without it."""

from __future__ import annotations

from switchboard.core.hooks import Hook

# (session, service): the user's desired state changed; queue a push of it, in this unit
# of work (returns the job).
push_requested = Hook("mivb.push_requested", required=True)
# (session, account_id, user_id, pbx_key): the user's MiVB configuration must leave the PBX.
remove_requested = Hook("mivb.remove_requested", required=True)
