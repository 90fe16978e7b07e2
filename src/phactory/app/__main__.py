"""``python -m phactory.app [PATH] [--host H] [--port P]``: the same as ``phactory serve``."""

from __future__ import annotations

from phactory.app.server import main

if __name__ == "__main__":
    main()
