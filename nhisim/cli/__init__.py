"""The command-line interface (`nhisim ...`): the outermost layer."""
