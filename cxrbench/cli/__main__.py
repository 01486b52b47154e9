from cxrbench.cli.application import main

main()
