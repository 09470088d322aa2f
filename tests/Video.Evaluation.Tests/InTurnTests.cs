namespace Video.Evaluation.Tests;

public class InTurnTests
{
    [Fact]
    public void Time_TwoWarmupAndThreePairs_AlternatesWhichRunsFirstAndKeepsOnlyTimedPairs()
    {
        var order = new List<string>();
        int a = 0, b = 0;

        var (first, second) = InTurn.Time(() => { order.Add("a"); return ++a; }, () => { order.Add("b"); return 100 + ++b; }, pairs: 3, warmup: 2);

        // Pairs -2, -1 (warm-up), 0, 1, 2: even pairs run the first operation first, odd pairs the second.
        Assert.Equal("ab ba ab ba ab", string.Join(" ", order.Chunk(2).Select(p => string.Concat(p))));
        Assert.Equal([3.0, 4.0, 5.0], first);
        Assert.Equal([103.0, 104.0, 105.0], second);
    }
}
