namespace Video.Evaluation.Tests;

public class PercentileTests
{
    [Theory]
    [InlineData(0.5, 5)]
    [InlineData(0.9, 9)]
    [InlineData(0.95, 10)]
    [InlineData(0.1, 1)]
    [InlineData(0, 1)]
    [InlineData(1, 10)]
    public void OfSorted_TenSamples_IsTheNearestRank(double q, double expected)
    {
        double[] samples = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        Assert.Equal(expected, Percentile.OfSorted(samples, q));
    }

    [Fact]
    public void OfSorted_OddCount_MedianIsTheMiddleSample()
    {
        Assert.Equal(3, Percentile.OfSorted([1, 2, 3, 4, 5], 0.5));
    }

    [Fact]
    public void Of_UnsortedSamples_SortsACopy()
    {
        double[] samples = [9, 1, 5, 3, 7];
        Assert.Equal(5, Percentile.Of(samples, 0.5));
        Assert.Equal([9, 1, 5, 3, 7], samples);
    }

    [Fact]
    public void OfSorted_NoSamples_IsNaN()
    {
        Assert.True(double.IsNaN(Percentile.OfSorted([], 0.5)));
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void OfSorted_FractionOutsideZeroToOne_Throws(double q)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Percentile.OfSorted([1, 2], q));
    }
}
