import sys

from channelcast.cli import main

sys.exit(main())
