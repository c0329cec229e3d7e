"""`python -m gridrun` runs the command-line interface."""

from gridrun.cli.main import main

if __name__ == "__main__":
    main()
