import sys

from philosophy_infra.cli import main

sys.exit(main())
