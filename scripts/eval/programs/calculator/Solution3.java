import java.util.Scanner;

public class Calc {
    private double acc;

    void apply(String op, double x) {
        if (op.equals("add")) acc += x;
        else if (op.equals("sub")) acc -= x;
        else if (op.equals("mul")) acc *= x;
        else if (op.equals("div")) {
            if (x == 0) System.out.println("cannot divide by zero, ignored");
            else acc /= x;
        } else if (op.equals("set")) acc = x;
        else System.out.println("operations: add sub mul div set");
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        Calc calc = new Calc();
        System.out.println("accumulator calculator, e.g. 'add 5'; 'end' stops");
        String op = input.next();
        while (!op.equals("end")) {
            double x = input.nextDouble();
            calc.apply(op, x);
            System.out.println("acc = " + calc.acc);
            op = input.next();
        }
        System.out.printf("final value: %.4f%n", calc.acc);
    }
}
