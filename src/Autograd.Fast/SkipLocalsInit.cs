// Locals are not zeroed on entry: every local is assigned before it is read (the compiler's definite
// assignment), and the few stackalloc buffers are written before they are read. Zeroing cost a few
// stores in every op's prologue, on graphs whose steps are a few hundred nanoseconds.
[module: System.Runtime.CompilerServices.SkipLocalsInit]
