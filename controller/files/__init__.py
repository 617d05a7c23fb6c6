"""Files from untrusted repositories: safe YAML in, atomic writes out."""
