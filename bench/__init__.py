"""``make bench``: the platform's figures, side by side with a single-transaction reference, in one run."""
