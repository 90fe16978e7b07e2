# instance la20
# Lawrence 10x10 instance (Table 6, instance 5); also called (seta5) or (A5)
# source: OR-Library jobshop1.txt (contributed by D. C. Mattfeld and R. J. M. Vaessens),
#         copy at github.com/hromadka/jobshop/jobshop1.txt; machines 0-based.
 10 10
 6  9 1 81 4 55 2 40 8 32 3 37 0  6 5 19 9 81 7 40
 7 21 2 70 9 65 4 64 1 46 5 65 8 25 0 77 3 55 6 15
 2 85 5 37 0 40 3 24 1 44 6 83 4 89 8 31 7 84 9 29
 4 80 6 77 7 56 0  8 2 30 5 59 3 38 1 80 9 41 8 97
 0 91 6 40 4 88 1 17 2 71 3 50 9 59 8 80 5 56 7  7
 2  8 6  9 3 58 5 77 1 29 8 96 0 45 9 10 4 54 7 36
 4 70 3 92 1 98 5 87 6 99 7 27 8 86 9 96 0 28 2 73
 1 95 7 92 3 85 4 52 6 81 9 32 8 39 0 59 2 41 5 56
 3 60 8 45 0 88 2 12 1  7 5 22 4 93 9 49 7 69 6 27
 0 21 2 61 3 68 5 26 6 82 9 71 8 44 4 99 7 33 1 84
