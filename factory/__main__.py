from factory.cli import main

if __name__ == "__main__":  # workers started with "spawn" re-import this module
    main()
