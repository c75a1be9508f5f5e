import java.util.Scanner;

public class MatMul {
    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        System.out.println("size n of the square matrices:");
        int n = in.nextInt();
        long[] a = new long[n * n], b = new long[n * n], c = new long[n * n];
        System.out.println("matrix A, row by row:");
        int idx = 0;
        while (idx < n * n) {
            a[idx] = in.nextLong();
            idx++;
        }
        System.out.println("matrix B, row by row:");
        idx = 0;
        while (idx < n * n) {
            b[idx++] = in.nextLong();
        }
        int i = 0;
        while (i < n) {
            int j = 0;
            while (j < n) {
                long acc = 0;
                for (int t = 0; t < n; t++) acc = acc + a[i * n + t] * b[t * n + j];
                c[i * n + j] = acc;
                j++;
            }
            i++;
        }
        System.out.println("C = A*B");
        for (int r = 0; r < n; r++) {
            String line = "";
            for (int col = 0; col < n; col++) line += c[r * n + col] + "\t";
            System.out.println(line);
        }
        long trace = 0;
        for (int d = 0; d < n; d++) trace += c[d * n + d];
        System.out.println("trace(C) = " + trace);
    }
}
