import java.util.Scanner;

/** A simple calculator: reads "number operator number" until the user types quit. */
public class SimpleCalculator {

    public static double calculate(double a, char op, double b) {
        switch (op) {
            case '+':
                return a + b;
            case '-':
                return a - b;
            case '*':
                return a * b;
            case '/':
                if (b == 0) {
                    throw new ArithmeticException("division by zero");
                }
                return a / b;
            case '%':
                return a % b;
            case '^':
                return Math.pow(a, b);
            default:
                throw new IllegalArgumentException("unknown operator " + op);
        }
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        double memory = 0;
        int operations = 0;
        System.out.println("Enter an expression like 3 + 4, or quit to exit.");
        while (true) {
            System.out.print("> ");
            String first = input.next();
            if (first.equalsIgnoreCase("quit")) {
                break;
            }
            double a = first.equalsIgnoreCase("m") ? memory : Double.parseDouble(first);
            char op = input.next().charAt(0);
            double b = input.nextDouble();
            try {
                double result = calculate(a, op, b);
                memory = result;
                operations++;
                System.out.println("= " + result);
            } catch (ArithmeticException | IllegalArgumentException e) {
                System.out.println("Error: " + e.getMessage());
            }
        }
        System.out.println(operations + " operations, last result " + memory);
        input.close();
    }
}
