using TorchSharp;
using Video.Training.Losses;
using Video.Training.Models;
using static TorchSharp.torch;

namespace Video.Training.Tests.Losses;

/// <summary>The temporal loss: zero exactly when stylizing commutes with the motion, positive when it does not.</summary>
public class TemporalLossTests
{
    private static Tensor Shift(int n, double tx, double ty, long h, long w)
    {
        var theta = new float[6];
        TemporalLoss.Affine(theta, 1, 0, tx, ty, h, w);
        return torch.tensor(theta).reshape(1, 2, 3).repeat(n, 1, 1);
    }

    [Fact]
    public void Of_IdentityModel_RandomMotion_IsZero()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        var x = torch.rand(3, 3, 40, 48);
        var grid = TemporalLoss.Grid(TemporalLoss.RandomAffine(new Random(5), 3, 40, 48), 40, 48);
        var moved = TemporalLoss.MovedCopy(x, grid, noiseStd: 0);
        Assert.True(TemporalLoss.Of(x, moved, grid).item<float>() < 1e-12);
    }

    [Fact]
    public void Of_IdentityMotion_AnyModel_IsZero()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(4);
        using var g = new FastStylizer(StylizerSpec.CheapReflect);
        var x = torch.rand(2, 3, 32, 40);
        var grid = TemporalLoss.Grid(TemporalLoss.Identity(2), 32, 40);
        using (torch.no_grad())
        {
            var moved = TemporalLoss.MovedCopy(x, grid, noiseStd: 0);
            Assert.True((moved - x).abs().max().item<float>() < 1e-5);
            Assert.True(TemporalLoss.Of(g.forward(x), g.forward(moved), grid).item<float>() < 1e-10);
        }
    }

    [Fact]
    public void Of_PositionDependentModel_IsPositive()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(5);
        var x = torch.rand(2, 3, 32, 32);
        var ramp = torch.linspace(0, 1, 32).reshape(1, 1, 1, 32);
        Tensor Model(Tensor t) => t * ramp; // not equivariant: the output depends on where a pixel is
        var grid = TemporalLoss.Grid(Shift(2, 3, 0, 32, 32), 32, 32);
        var moved = TemporalLoss.MovedCopy(x, grid, noiseStd: 0);
        Assert.True(TemporalLoss.Of(Model(x), Model(moved), grid).item<float>() > 1e-3);
        Assert.True(TemporalLoss.Of(x, moved, grid).item<float>() < 1e-12);
    }

    [Fact]
    public void ValidMask_IntegerShift_ExcludesTheBroughtInColumns()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(6);
        var x = torch.rand(1, 3, 16, 20);
        var grid = TemporalLoss.Grid(Shift(1, 4, 0, 16, 20), 16, 20);
        var mask = TemporalLoss.ValidMask(grid);
        var columns = mask[0, 0].sum(new long[] { 0 }); // valid pixels per column
        Assert.Equal(16 * 16, columns.narrow(0, 0, 16).sum().item<float>());
        Assert.Equal(0, columns.narrow(0, 16, 4).sum().item<float>());

        // The warp really is the shift: output column i is input column i + 4.
        var moved = TemporalLoss.Warp(x, grid);
        Assert.True((moved.narrow(3, 0, 16) - x.narrow(3, 4, 16)).abs().max().item<float>() < 1e-5);
    }

    [Fact]
    public void RandomAffine_StaysWithinTheConfiguredMotion()
    {
        using var scope = torch.NewDisposeScope();
        var theta = TemporalLoss.RandomAffine(new Random(7), 64, 48, 48);
        var a = theta.narrow(2, 0, 2);
        var scale = torch.linalg.det(a).sqrt();
        Assert.InRange(scale.min().item<float>(), TemporalLoss.MinScale - 1e-4, TemporalLoss.MaxScale + 1e-4);
        var shiftPixels = theta.select(2, 2).abs() * 24;
        Assert.InRange(shiftPixels.max().item<float>(), 0.5, TemporalLoss.MaxShiftPixels + 1e-4);
        var angle = torch.atan2(theta.select(1, 1).select(1, 0), theta.select(1, 0).select(1, 0)).abs().max().item<float>() * 180 / Math.PI;
        Assert.InRange(angle, 0.1, TemporalLoss.MaxRotationDegrees + 1e-3);
    }
}
