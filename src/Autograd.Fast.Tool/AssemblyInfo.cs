// The tests run the seed walkthrough in-process (SeedWalkthrough is internal).
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Autograd.Fast.Tests")]
