import java.util.Scanner;

/*
 * Lab 2 - Leap Year
 * Reads a year and says if it is a leap year or not.
 */
public class Lab2 {

    public static void main(String[] args) {
        Scanner keyboard = new Scanner(System.in);
        int yr;
        boolean isLeap = false;

        System.out.print("Enter a year: ");
        yr = keyboard.nextInt();

        if (yr > 0) {
            // every 4 years is a leap year
            if (yr % 4 == 0) {
                isLeap = true;
                // except centuries
                if (yr % 100 == 0) {
                    isLeap = false;
                    // except every 400 years
                    if (yr % 400 == 0) {
                        isLeap = true;
                    }
                }
            }

            String answer;
            if (isLeap) {
                answer = " is a leap year";
            } else {
                answer = " is not a leap year";
            }
            System.out.println(yr + answer);
        } else {
            System.out.println("Invalid year.");
        }
    }
}
