using System.Diagnostics;
using AutogradFast.Graph;

namespace AutogradFast.Storage;

/// <summary>
/// The managed objects some nodes carry beside the unmanaged tape: the forward call site captured in
/// anomaly mode, and a custom function's context. One table indexed by node, cut back when a scope
/// ends and moved with its nodes when the root-scope collector compacts the tape.
/// </summary>
internal sealed partial class TensorContext
{
    private struct NodeObjects
    {
        public StackTrace? CallSite;
        public FunctionContext? Function;
    }

    private NodeObjects[]? _nodeObjects;

    private ref NodeObjects ObjectsOf(int node)
    {
        _nodeObjects ??= new NodeObjects[Math.Max(64, node + 1)];
        if (node >= _nodeObjects.Length) Array.Resize(ref _nodeObjects, Math.Max(node + 1, _nodeObjects.Length * 2));
        return ref _nodeObjects[node];
    }

    private StackTrace? CallSiteOf(int node)
        => _nodeObjects is not null && node >= 0 && node < _nodeObjects.Length ? _nodeObjects[node].CallSite : null;

    /// <summary>The context of custom function node <paramref name="node"/> (OpKind.Custom or CustomOutput).</summary>
    public FunctionContext FunctionOf(int node) => _nodeObjects![node].Function!;

    public void SetFunction(int node, FunctionContext function) => ObjectsOf(node).Function = function;

    /// <summary>PyTorch's name of node <paramref name="node"/>: its row's, or a custom function's own (<c>MyExpBackward</c>).</summary>
    public string NodeName(int node)
    {
        OpKind kind = Nodes[node].Kind;
        return kind is OpKind.Custom or OpKind.CustomOutput ? FunctionOf(node).NodeName : OpRows.GradFnName(kind);
    }

    /// <summary>A scope that ends cuts the tape back to <paramref name="nodeCount"/>: the objects of the nodes it drops go too.</summary>
    private void TruncateNodeObjects(int nodeCount)
    {
        if (_nodeObjects is null) return;
        if (nodeCount < _nodeObjects.Length) Array.Clear(_nodeObjects, nodeCount, _nodeObjects.Length - nodeCount);
    }

    /// <summary>The root-scope collector moved node i to newIndex[i] (-1: dropped): the objects move with their nodes.</summary>
    private void CompactNodeObjects(int[] newIndex, int oldCount)
    {
        if (_nodeObjects is null) return;
        int end = Math.Min(oldCount, _nodeObjects.Length);
        for (int i = 0; i < end; i++)
        {
            NodeObjects objects = _nodeObjects[i];
            _nodeObjects[i] = default;
            if (newIndex[i] >= 0) _nodeObjects[newIndex[i]] = objects; // newIndex[i] <= i: already cleared
        }
    }
}
