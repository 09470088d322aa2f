using Microsoft.Extensions.Options;

namespace Video.Streaming.Grpc;

/// <summary>A registered AdaIN style: the statistics its model's style encoder computed from one image.</summary>
/// <param name="Id">The id clients pass as <c>style_id</c>.</param>
/// <param name="Model">The AdaIN model the statistics belong to.</param>
/// <param name="Statistics">What the model's style encoder computed from the image.</param>
internal sealed record RegisteredStyle(string Id, string Model, Video.Inference.StyleStatistics Statistics);

/// <summary>A bounded, least-recently-used cache of registered styles.</summary>
/// <remarks>Thread safe. Statistics are computed once per image and model; the id is a content hash, so
/// registering the same image again returns the same id.</remarks>
internal sealed class StyleRegistry
{
    private readonly int _capacity;
    private readonly LinkedList<RegisteredStyle> _order = new();
    private readonly Dictionary<string, LinkedListNode<RegisteredStyle>> _byId = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public StyleRegistry(IOptions<StreamingOptions> options) => _capacity = options.Value.StyleCacheCapacity;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _byId.Count;
            }
        }
    }

    /// <summary>Adds or refreshes a style, evicting the least recently used one when full.</summary>
    public void Add(RegisteredStyle style)
    {
        lock (_gate)
        {
            if (_byId.Remove(style.Id, out var existing))
            {
                _order.Remove(existing);
            }

            _byId[style.Id] = _order.AddFirst(style);
            while (_byId.Count > _capacity && _order.Last is { } last)
            {
                _order.RemoveLast();
                _byId.Remove(last.Value.Id);
            }
        }
    }

    /// <summary>The style with <paramref name="id"/>; throws NotFound when unknown or evicted.</summary>
    public RegisteredStyle Get(string id)
    {
        lock (_gate)
        {
            if (_byId.TryGetValue(id, out var node))
            {
                _order.Remove(node);
                _order.AddFirst(node);
                return node.Value;
            }
        }

        throw new StreamingException(StreamingError.NotFound, $"unknown style {Video.Capture.UserText.Quote(id)}: register the style image with RegisterStyle first (styles are kept in a cache of {_capacity} and may have been evicted)");
    }
}
