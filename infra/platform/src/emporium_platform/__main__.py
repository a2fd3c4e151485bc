from emporium_platform.cli import main

main()
