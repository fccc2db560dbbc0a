"""DN and DID ranges, and allocation of numbers from them."""
