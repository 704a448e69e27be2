from evallint.cli import main

main()
