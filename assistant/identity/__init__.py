"""Who is calling: API keys with roles, customer tokens, and whose data a request may read."""
