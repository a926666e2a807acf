"""Reports: tables, figures and documents made from experiment results (the last layer before the CLI)."""
