from oscbench.cli import main

main()
