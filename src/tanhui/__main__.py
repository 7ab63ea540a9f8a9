from tanhui.cli import main

main()
