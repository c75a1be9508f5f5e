import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Scanner;

// Evaluates postfix (reverse Polish) expressions such as "3 4 + 2 *"
public class RPNCalc {
    public static double eval(String expr) {
        Deque<Double> st = new ArrayDeque<>();
        for (String tok : expr.trim().split("\\s+")) {
            if (tok.matches("-?\\d+(\\.\\d+)?")) {
                st.push(Double.valueOf(tok));
                continue;
            }
            double y = st.pop(), x = st.pop();
            if (tok.equals("+")) st.push(x + y);
            else if (tok.equals("-")) st.push(x - y);
            else if (tok.equals("*")) st.push(x * y);
            else if (tok.equals("/")) st.push(x / y);
            else throw new IllegalStateException("bad token: " + tok);
        }
        if (st.size() != 1) throw new IllegalStateException("malformed expression");
        return st.pop();
    }

    public static void main(String[] args) {
        Scanner s = new Scanner(System.in);
        while (s.hasNextLine()) {
            String line = s.nextLine();
            if (line.isBlank()) continue;
            try {
                System.out.println(line + " = " + eval(line));
            } catch (RuntimeException ex) {
                System.out.println("cannot evaluate: " + ex.getMessage());
            }
        }
    }
}
