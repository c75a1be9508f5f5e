import java.util.Random;

public class Matrices {
    private final double[][] data;
    private final int n, m;

    public Matrices(int n, int m) {
        this.n = n;
        this.m = m;
        data = new double[n][m];
    }

    public static Matrices random(int n, int m, long seed) {
        Random rnd = new Random(seed);
        Matrices x = new Matrices(n, m);
        for (int r = 0; r < n; r++)
            for (int c = 0; c < m; c++)
                x.data[r][c] = Math.round(rnd.nextDouble() * 100) / 10.0;
        return x;
    }

    public Matrices times(Matrices other) {
        if (m != other.n) throw new IllegalArgumentException("shape mismatch");
        Matrices out = new Matrices(n, other.m);
        for (int r = 0; r < n; r++) {
            for (int k = 0; k < m; k++) {
                double v = data[r][k];
                for (int c = 0; c < other.m; c++) out.data[r][c] += v * other.data[k][c];
            }
        }
        return out;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (double[] row : data) {
            sb.append(java.util.Arrays.toString(row)).append('\n');
        }
        return sb.toString();
    }

    public static void main(String[] args) {
        Matrices a = random(3, 4, 1L);
        Matrices b = random(4, 2, 2L);
        System.out.println("A =\n" + a);
        System.out.println("B =\n" + b);
        System.out.println("A x B =\n" + a.times(b));
    }
}
