"""The repository contract: policy (publishing.yaml) and status.yaml, written and read back."""
