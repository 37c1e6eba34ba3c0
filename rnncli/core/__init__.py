"""Pure torch building blocks: no I/O, no printing, imports nothing but torch."""
