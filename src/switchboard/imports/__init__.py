"""Bulk provisioning: the users of an account with their MiVB service and phones, as CSV."""
