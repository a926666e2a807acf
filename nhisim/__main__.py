"""``python -m nhisim``: the same as the ``nhisim`` command."""

from nhisim.cli.app import main

if __name__ == "__main__":
    main()
