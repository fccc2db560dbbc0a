"""Partners, customer accounts, users, sign-in and the tenancy rules between them."""
