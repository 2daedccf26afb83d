// The tests run the seed walkthrough in-process (SeedWalkthrough is internal).
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Autograd.Fast.Tests")]

// The BenchmarkDotNet suites (bench/Autograd.Fast.Benchmarks) time the workload classes themselves.
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Autograd.Fast.Benchmarks")]
