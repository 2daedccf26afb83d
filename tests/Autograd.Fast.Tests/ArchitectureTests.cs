using System.Text.RegularExpressions;
using AutogradFast.Graph;

namespace AutogradFast.Tests;

/// <summary>Rules of the codebase's shape that a reviewer would otherwise have to remember.</summary>
public class ArchitectureTests
{
    private static readonly string Library = Path.Combine(RepositoryPaths.Root, "src", "Autograd.Fast");

    [Fact]
    public void OnlySimdNamesAnInstructionSet()
    {
        var offenders = Directory.EnumerateFiles(Path.Combine(RepositoryPaths.Root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}Simd{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => Regex.IsMatch(File.ReadAllText(f), @"System\.Runtime\.Intrinsics\.(X86|Arm)"))
            .ToList();
        Assert.Empty(offenders);
    }

    [Fact]
    public unsafe void EveryOpKindHasACompleteRow()
    {
        foreach (OpKind kind in Enum.GetValues<OpKind>())
        {
            ref readonly OpRow row = ref OpRows.Of(kind);
            Assert.True(row.Rule != null, $"{kind} has no backward rule");
            // A custom function's node is named by the function (MyExpBackward); its row's name is only a placeholder.
            Assert.Matches(kind is OpKind.Custom or OpKind.CustomOutput ? new Regex("^CustomFunctionBackward$") : new Regex(@"^[A-Z][A-Za-z]*Backward\d$|^CopySlices$|^CopyBackwards$"), row.Name);
        }
        // The table is a switch the compiler checks for completeness: a default arm would let a new op kind
        // borrow another's row.
        string table = File.ReadAllText(Path.Combine(Library, "Autograd", "OpRows.cs"));
        Assert.DoesNotMatch(new Regex(@"_\s*=>"), table[table.IndexOf("Declared(OpKind kind) => kind switch", StringComparison.Ordinal)..]);
        Assert.Contains("#pragma warning disable CS8524", table, StringComparison.Ordinal);
    }

    [Fact]
    public void ErrorsAreRaisedFromTheThrowHelper()
    {
        // Hot paths stay small and every message is reviewed in one file; a few argument checks in
        // rarely used APIs are allowed to throw directly, so this bounds their number.
        int direct = Directory.EnumerateFiles(Library, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith("ThrowHelper.cs", StringComparison.Ordinal))
            .Sum(f => Regex.Matches(File.ReadAllText(f), @"throw new ").Count);
        Assert.True(direct <= 25, $"{direct} direct throws outside ThrowHelper; move new messages into ThrowHelper.");
    }
}
