/* The recorder exports no API to Swift: it is loaded with LD_PRELOAD. */
