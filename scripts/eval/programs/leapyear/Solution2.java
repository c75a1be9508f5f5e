import java.util.Scanner;

public class Leap {
    public static void main(String[] args) {
        Scanner sc = new Scanner(System.in);
        System.out.print("Enter a year: ");
        int y = sc.nextInt();
        if (y < 1) {
            System.out.println("Invalid year.");
            return;
        }
        boolean leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        if (leap)
            System.out.println(y + " is a leap year");
        else
            System.out.println(y + " is not a leap year");
    }
}
