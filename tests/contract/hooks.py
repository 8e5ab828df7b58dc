"""Schemathesis hooks for the contract run (loaded through SCHEMATHESIS_HOOKS)."""

import schemathesis

# The batch scoring endpoints take JSON Lines declared as a string: send the string's text as it is.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
