import java.util.Scanner;

public class LeapYearCheck {

    public static void main(String[] args) {
        Scanner scan = new Scanner(System.in);
        System.out.print("Enter a year: ");
        int year = scan.nextInt();
        scan.close();

        if (year <= 0) {
            System.out.println("Invalid year.");
        }
        // check the biggest rule first so the order doesn't matter
        else if (year % 400 == 0) {
            System.out.println(year + " is a leap year");
        }
        else if (year % 100 == 0) {
            System.out.println(year + " is not a leap year");
        }
        else if (year % 4 == 0) {
            System.out.println(year + " is a leap year");
        }
        else {
            System.out.println(year + " is not a leap year");
        }
    }
}
