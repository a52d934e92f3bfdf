"""Developer tools that drive a whole running product: the demo in a browser, the README's screenshots."""
