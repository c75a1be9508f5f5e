import java.util.Scanner;

/** Reads two matrices and prints their product. */
public class MatrixMultiply {

    public static int[][] readMatrix(Scanner input, int rows, int cols) {
        int[][] m = new int[rows][cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                m[i][j] = input.nextInt();
            }
        }
        return m;
    }

    public static int[][] multiply(int[][] a, int[][] b) {
        int rows = a.length;
        int cols = b[0].length;
        int inner = b.length;
        int[][] result = new int[rows][cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                int sum = 0;
                for (int k = 0; k < inner; k++) {
                    sum += a[i][k] * b[k][j];
                }
                result[i][j] = sum;
            }
        }
        return result;
    }

    public static void printMatrix(int[][] m) {
        for (int[] row : m) {
            for (int value : row) {
                System.out.printf("%6d", value);
            }
            System.out.println();
        }
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        System.out.print("Rows and columns of the first matrix: ");
        int r1 = input.nextInt();
        int c1 = input.nextInt();
        System.out.print("Rows and columns of the second matrix: ");
        int r2 = input.nextInt();
        int c2 = input.nextInt();
        if (c1 != r2) {
            System.out.println("Cannot multiply: " + c1 + " columns but " + r2 + " rows.");
            return;
        }
        System.out.println("Enter the first matrix:");
        int[][] first = readMatrix(input, r1, c1);
        System.out.println("Enter the second matrix:");
        int[][] second = readMatrix(input, r2, c2);
        int[][] product = multiply(first, second);
        System.out.println("Product:");
        printMatrix(product);
        input.close();
    }
}
